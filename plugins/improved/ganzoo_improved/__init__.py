"""The paper's improved translator for ganzoo. Kept empty so that reading the manifest is cheap."""
