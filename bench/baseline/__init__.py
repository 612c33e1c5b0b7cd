"""The smallest Django project serving the catalog: the ceiling for the API."""
