"""What the token of a request is: its name and scopes, for consoles that show what it may do."""

from flask.views import MethodView

from ..auth import current_token
from ..extensions import Blueprint
from ..schemas import identity as schemas
from ..scopes import SCOPES

blp = Blueprint("auth", __name__, description="The token a request carries")


@blp.route("/auth/whoami")
class WhoAmI(MethodView):
    @blp.requires_token
    @blp.response(200, schemas.WhoAmISchema)
    def get(self):
        """The token's name and scopes

        Any valid token may ask, whatever its scopes: its name, its scopes (each operation
        says the one it needs as `x-scope`) and when it expires. A console uses it to show the
        actions a token may not take as disabled. Never the secret itself.
        """
        token = current_token()
        return {
            "name": token.name,
            "scopes": [scope for scope in SCOPES if scope in token.scopes],
            "team": token.team,
            "expires": token.expires,
            "engines": None if token.engines is None else sorted(token.engines),
        }
