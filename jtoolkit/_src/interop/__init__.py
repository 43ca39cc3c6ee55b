"""Interop with torch: from_torch (torch.fx graph -> NNX module), compare, summary."""
