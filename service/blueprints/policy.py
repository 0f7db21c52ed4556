"""/policy: the one table that judges every path into the engine, as configured."""

import click
from flask.views import MethodView

from .. import engines, policy
from ..extensions import Blueprint
from ..schemas import policy as schemas

blp = Blueprint("policy", __name__, description="The policy every path into the engine passes")


@blp.route("/policy")
class Policy(MethodView):
    @blp.requires("read")
    @blp.response(200, schemas.PolicySchema)
    def get(self):
        """The policy's table: each engine field, its rule, the configured values

        Every create, update and act on an existing object (REST, builds, restores) is judged
        by this table in the engine's own form, after its references are resolved; a field
        the table does not know is refused when it is set (`unknown-field`). A refusal is a
        403 naming its rule and its field.
        """
        return policy.published(engines.settings())


# where the README holds the table, made from the code
README_MARKS = ("<!-- policy-table -->\n", "<!-- /policy-table -->")


def readme_with_table(text: str) -> str:
    """The README's text with the table between its marks made anew."""
    start, end = README_MARKS
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"the README has no {start.strip()} ... {end} marks")
    return head + start + policy.markdown() + end + rest.split(end, 1)[1]


@blp.cli.command("readme")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def readme_command(path):
    """Write the policy's table into the README at PATH, between its marks."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    with open(path, "w", encoding="utf-8") as file:
        file.write(readme_with_table(text))
