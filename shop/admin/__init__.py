"""The operator's landing page, linking every admin area."""
