"""The web application and REST API: the warehouse's measurements, areas and worklists over HTTP.

``create_app`` (:mod:`.app`) builds the FastAPI application; :mod:`.api` holds the REST routers,
:mod:`.auth` users, passwords, tokens and sessions, :mod:`.roles` who may call what and see where,
:mod:`.audit` the append-only record of logins, refusals and person-level reads, and :mod:`.snapshot`
the measurements as each role may read them (the disclosure decision made once, at start-up).
"""
