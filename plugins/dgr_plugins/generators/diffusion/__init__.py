"""What the diffusers generators share: option checks (``options``, light), weight lookup
(``weights``, light), dataset class → model class mapping (``classmap``, light) and
prototype-guided SDEdit sampling (``sampling``, imports torch and diffusers)."""
