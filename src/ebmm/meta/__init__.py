"""Meta-learning: parameters, objective, training loop and checkpoints."""
