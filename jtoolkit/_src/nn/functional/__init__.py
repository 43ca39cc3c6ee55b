"""torch.nn.functional: each op once, as a pure function, by family."""
