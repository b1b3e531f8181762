"""The study (the paper this project reproduces): its experiments in two protocols, one report."""
