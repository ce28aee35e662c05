"""service/inputs/notices.py: several warnings in one answer read as whole sentences, each also on its own."""

from __future__ import annotations

import pytest

from service.inputs.notices import answer_notices, join_notices, notice_list

pytestmark = pytest.mark.unit
DEMO = "DEMO bundle (random-init encoder): labels and rankings are NOT meaningful; use a trained bundle for real recognition."
UNITS = ("coordinates look like millimetres: the median torso length is 512 in the given units, about 0.5 is "
         "expected in metres; pass units='mm'")


def test_two_warnings_join_as_sentences_not_with_a_dangling_semicolon() -> None:
    joined = join_notices(DEMO, UNITS)
    assert ".;" not in joined and "; coordinates" not in joined
    assert joined == DEMO + " Coordinates look like millimetres: the median torso length is 512 in the given " \
                            "units, about 0.5 is expected in metres; pass units='mm'."


def test_the_list_keeps_each_warning_apart_in_order_without_repeats() -> None:
    assert notice_list(DEMO, None, "  ", UNITS, DEMO) == [DEMO, UNITS]
    assert notice_list(None, "") is None and join_notices(None) is None


def test_a_single_warning_is_passed_on_as_it_is() -> None:
    assert join_notices(UNITS) == UNITS and join_notices("trailing separator;") == "trailing separator"
    assert answer_notices(None, DEMO) == {"warning": DEMO, "warnings": [DEMO]}
