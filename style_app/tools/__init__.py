"""Measurement and conversion: the norm comparison, held-out scores, picture measures, speed, ONNX."""
