"""HTTP views, one module per area: health, catalog, payments."""
