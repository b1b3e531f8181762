"""The NVRTC compile check (issue 13): every CUDA module netlab can instantiate compiles for sm_80
and sm_90 with the options CuPy's RawModule uses, with no error, no warning and no register spill.
Needs NVRTC (the `cuda-check` extra, which `make test` installs); skipped, saying so, where it
cannot be loaded. No GPU or driver is needed."""

from __future__ import annotations

import pytest

from netlab.cuda.compilecheck import ARCHS, Job, check, compile_jobs, module_plan
from netlab.cuda.nvrtc import Compiled, Nvrtc, parse_ptxas
from netlab.cuda.sources import VARIANTS, Variant
from netlab.nn.activations import ACTIVATIONS, ActivationDef, CudaCode
from netlab.nn.optimizers import OPTIMIZERS


@pytest.fixture(scope="module")
def nvrtc():
    try:
        return Nvrtc()
    except OSError as exc:
        pytest.skip(f"NVRTC cannot be loaded ({exc})")


def test_every_kernel_netlab_can_instantiate_compiles(nvrtc, capsys):
    report = check(compile_jobs(), nvrtc)
    with capsys.disabled():  # the figures in the test log: modules, registers, time
        print(f"\nNVRTC {'.'.join(map(str, nvrtc.version()))} compile check: {report.summary()}")
    assert report.failures == []
    jobs = [r.job for r in report.results]
    default = [j for j in jobs if j.options == Variant().options()]
    assert {j.arch for j in default} == set(ARCHS)
    for name, act in ACTIVATIONS.items():
        if act.cuda is not None:
            assert any(f" gemm {name} " in j.module for j in default), name
    for name, cls in OPTIMIZERS.items():
        if cls.cuda is not None:
            assert any(j.module.endswith(f"{name} update") for j in default), name
    for name, variant in VARIANTS.items():
        assert any(j.options == variant.options() and j.module.startswith(name) for j in jobs)


def test_a_broken_kernel_fails_the_check(nvrtc):
    plan = module_plan(dtypes=("float32",), activations=["tanh"])
    name = next(n for n in plan if " gemm tanh " in n)
    source = plan[name]
    assert check([Job(name, source, Variant().options(), "sm_90")], nvrtc).failures == []
    syntax = source.replace("acc += As[ty][q] * Bs[q][tx];", "acc += As[ty][q] * Bs[q][tx]")
    unused = source.replace("T acc = (T)0;", "T acc = (T)0; int never_read;")
    jobs = [Job(name, syntax, Variant().options(), "sm_90"),
            Job(name, unused, Variant().options(), "sm_80")]  # fmt: skip
    report = check(jobs, nvrtc)
    assert len(report.failures) == 2
    assert "(sm_90): does not compile" in report.failures[0]
    assert "(sm_80): warning: " in report.failures[1] and "never_read" in report.failures[1]


def test_spills_fail_the_check():
    log = (
        "ptxas info    : Compiling entry function 'gemm' for 'sm_90'\n"
        "ptxas         .     64 bytes stack frame, 48 bytes spill stores, 48 bytes spill loads\n"
        "ptxas info    : Used 255 registers, used 1 barriers, 2176 bytes smem\n"
    )
    (kernel,) = parse_ptxas(log)
    assert (kernel.name, kernel.registers, kernel.spill_stores) == ("gemm", 255, 48)
    from netlab.cuda.compilecheck import Result

    result = Result(Job("m", "", (), "sm_90"), Compiled(True, log, [kernel]))
    assert result.problems == ["kernel gemm spills 48 bytes"]


def test_a_new_activation_is_in_the_plan_without_touching_the_check():
    class Cube(ActivationDef):
        cuda = CudaCode("(v * v * v)", "((T)3 * s * s)")
        saves = "z"

    ACTIVATIONS.add("cube_for_test", Cube())
    try:
        plan = module_plan(dtypes=("float64",))
        assert any(" gemm cube_for_test 3 " in n for n in plan)  # keeps z: EPI_BIAS_ACT_KEEP_Z
    finally:
        ACTIVATIONS.remove("cube_for_test")
