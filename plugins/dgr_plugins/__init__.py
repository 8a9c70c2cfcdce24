"""dgr's built-in plugins. Each module is an entry point of the ``dgr`` group, loaded the
same way a third-party plugin is; none imports torch, diffusers, open_clip or faiss at
import time."""
