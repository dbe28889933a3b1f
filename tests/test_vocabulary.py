"""The console's vocabulary comes from the server's declarations, never retyped in JS."""

import re
from pathlib import Path

import orjson
import pytest
from orderdesk import model, vocabulary
from orderdesk.workflow import PURCHASE_MOVES, PURCHASE_STATUSES, STATUSES

WEB = Path(__file__).resolve().parents[1] / "server" / "web"
SCRIPTS = sorted(WEB.glob("*.js"))


async def test_the_vocabulary_module_is_served_from_the_declarations(client):
    response = await client.get("/static/vocabulary.js")
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = await response.text()
    prefix = "export const VOCABULARY = "
    served = orjson.loads(text[text.index(prefix) + len(prefix) :].rstrip().rstrip(";"))
    assert served == vocabulary.vocabulary()
    assert [s["value"] for s in served["statuses"]] == [int(s) for s in STATUSES]
    assert served["eventTypes"] == list(model.EVENT_TYPES)
    assert [s["value"] for s in served["purchaseStatuses"]] == [int(s) for s in PURCHASE_STATUSES]
    assert list(served["purchaseMoves"]) == list(PURCHASE_MOVES)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_console_module_retypes_the_vocabulary(script):
    text = script.read_text()
    # A handler may name the event it handles; a list of them is the vocabulary's.
    for listed in re.findall(r"\[[^\[\]]*\]", text):
        assert sum(f'"{kind}"' in listed for kind in model.EVENT_TYPES) < 2, listed
    for info in [*STATUSES.values(), *PURCHASE_STATUSES.values()]:
        assert f'"{info.label.en}"' not in text and f'"{info.label.zh}"' not in text, info
    # Which statuses allow what comes from the moves, not from status numbers in code.
    assert not re.search(r"status\s*[!=]==?\s*-?\d", text)
    assert not re.search(r"\[\s*-?\d+(\s*,\s*-?\d+)+\s*\]\.includes", text)
    assert not re.search(r"jpg\|png|image/jpeg", text)
