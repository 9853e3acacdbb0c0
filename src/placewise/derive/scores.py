"""Risk scores defined by the paper that publishes them, computed from registers, age and sex at a date."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from placewise.derive.people import PID

CHA2DS2_VASC_REGISTER_POINTS = {"congestive_heart_failure": 1, "hypertension": 1, "diabetes": 1, "stroke": 2,
                                "vascular": 1}
"""CHA2DS2-VASc points for conditions (Lip GYH et al., Chest 2010;137:263-72, table 1): congestive heart
failure 1, hypertension 1, diabetes 1, stroke, TIA or thromboembolism 2, vascular disease 1."""


def cha2ds2_vasc_condition_points(components: dict[str, list[ir.Table]]) -> ir.Table:
    """Each person's CHA2DS2-VASc points from conditions at each date (``pid, period_end, pts``); none: no row.

    ``components`` gives, for each condition of the score, the members (``pid, period_end``) of the
    registers that count for it.
    """
    parts = []
    for component, on in components.items():
        hit = on[0] if len(on) == 1 else on[0].union(*on[1:], distinct=True)
        parts.append(hit.mutate(pts=ibis.literal(CHA2DS2_VASC_REGISTER_POINTS[component])))
    u = parts[0].union(*parts[1:])
    return u.group_by([PID, "period_end"]).aggregate(pts=u.pts.sum())


def cha2ds2_vasc_age_sex_points(age: ir.IntegerValue, sex: ir.StringValue) -> ir.IntegerValue:
    """CHA2DS2-VASc points for age (65-74: 1, 75 and over: 2) and sex (female: 1), as Lip et al. 2010."""
    age_points = ibis.cases((age >= 75, 2), (age >= 65, 1), else_=0)
    return age_points + ibis.ifelse(sex == "female", 1, 0)
