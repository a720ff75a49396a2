"""The Gradio web app: layout, the plain functions behind it, the normalization lab, serving fixes."""
