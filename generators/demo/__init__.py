"""The embedded demo: its workspace (``workspace``), its small layers (``layers``) and pictures."""
