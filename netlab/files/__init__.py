"""What netlab writes and reads back: atomic writes, .npz members, model files, run directories."""
