"""The browser UI: a small FastAPI app serving one static single-page app that talks only to the mirror."""
