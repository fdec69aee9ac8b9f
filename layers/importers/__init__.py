"""Loaders that write files (OSM, GeoJSON, GeoPackage, Shapefile, CSV) into PostGIS, one transaction each."""
