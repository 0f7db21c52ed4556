"""Every resource's blueprint, registered in this order."""

from . import (
    concepts,
    containers,
    docs,
    images,
    networks,
    registry,
    secrets,
    services,
    swarm,
    system,
    volumes,
)

MODULES = (
    system,
    images,
    containers,
    volumes,
    networks,
    registry,
    swarm,
    services,
    secrets,
    concepts,
)


def register_blueprints(app, api):
    for module in MODULES:
        api.register_blueprint(module.blp)
    # not part of the API: the files of the interactive docs
    app.register_blueprint(docs.blp)
