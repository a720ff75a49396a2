"""Training a style network: the loop, its data and its perceptual losses."""
