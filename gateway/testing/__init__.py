"""What the gateway's tests use: a fake engine (``fakes``), a real gateway process (``process``)."""
