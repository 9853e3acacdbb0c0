"""The web application: REST API and server-rendered pages over the warehouse."""
