"""Secondary care, community, mental health and social care activity, one block of people at a time.

Each builder returns the block's rows sorted by person (so by NHS number) then date; identifiers
are serial numbers continued across blocks, so the whole file is deterministic and sorted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from placewise.canonical import table
from placewise.sources.synth.config import AE_TYPES, AeTypeShift, GpModeShift
from placewise.sources.synth.events import (
    US_PER_DAY, World, admission_chance, categorical, dates, draw, ids, labels, nullable_dates, place_option,
)
from placewise.sources.synth.hospital_codes import (
    COMORBIDITY_ICD10, ELECTIVE_PRIMARY, EMERGENCY_PRIMARY_ICD10, EMERGENCY_PROCEDURE_SHARE, EMERGENCY_PROCEDURES,
    FALL_EXTERNAL_CAUSE_ICD10, FALL_INJURY_PRIMARY_ICD10, OTHER_EMERGENCY_ICD10, OTHER_INJURY_CAUSE_ICD10,
    PLACE_OF_OCCURRENCE_ICD10,
)
from placewise.sources.synth.pathways import (
    Clocks, Pathway, Referrals, admissions, appointments, clocks, draw_pathways, earlier_referrals, elective_codes,
    truth_rows,
)
from placewise.sources.synth.population import CURRENT, DIED, rng_for
from placewise.sources.synth.population import day as day_number



@dataclass
class Shared:
    """What builders hand on: identifier counters, and the block's A&E attendances that ended in admission."""

    serial: dict[str, int] = field(default_factory=dict)
    admitted: tuple[np.ndarray, np.ndarray, pa.Array, pa.Array] | None = None
    """Person, day of departure, provider and site of each attendance whose disposal was admission."""
    pathways: list[Pathway] | None = None
    """The block's GP referrals and what they led to, then referrals made before the window (their appointments
    and admissions in it), built before the outpatient appointments and spells."""
    pathway_truth: list[pa.Table] = field(default_factory=list)
    """Each block's referrals with their true outcome (:func:`placewise.sources.synth.pathways.truth_rows`)."""
    clocks: list[Clocks] = field(default_factory=list)
    """The RTT clocks of every block's referrals, those made before the window too, for the RTT returns."""

    def ids(self, prefix: str, n: int) -> pa.Array:
        """Next ``n`` identifiers for ``prefix``, advancing the counter."""
        first = self.serial.get(prefix, 1)
        self.serial[prefix] = first + n
        return ids(prefix, first, n)


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    """Columns as the canonical source table ``name`` (names, order and types checked)."""
    schema = table(name).source_schema()
    return pa.table([columns[f.name] for f in schema], schema=schema)


def _acute(w: World) -> list[list[tuple[str, str, float]]]:
    """Acute provider options of each Place, in Place order."""
    return [w.cfg.providers_by_place[c].acute for c in w.place_codes]


def gp_appointments(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """GP appointments: practice on the day, mode (with its step change) and did-not-attend."""
    who, day = draw(rng, w.cfg.activity["gp_appointments"], w, block)
    p, g = w.people, w.cfg.gp
    mode, names = categorical(rng, g.modes, len(who))
    for s in (s for s in w.cfg.step_changes if isinstance(s, GpModeShift)):
        here = (day >= day_number(s.date)) & _in_place(w, who, s.place) & (mode == names.index(s.from_mode))
        mode = np.where(here & (rng.random(len(who)) < s.share), names.index(s.to_mode), mode)
    dna = rng.random(len(who)) < g.dna_rate * np.exp(g.dna_deprivation * (p.dep[who] - 0.5))
    return _table("gp_appointments", {
        "appointment_id": shared.ids("GP", len(who)), "nhs_number": w.nhs.take(who),
        "practice_code": labels(p.practice_at(day, who), w.prac.code), "appointment_date": dates(day),
        "mode": labels(mode, names), "status": labels(dna.astype(np.int64), ["attended", "did_not_attend"]),
    })


def ae_attendances(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """A&E attendances: department type (with the UTC step change), times in department, disposal."""
    who, day = draw(rng, w.cfg.activity["ae_attendances"], w, block)
    a, n = w.cfg.ae, len(who)
    dtype, _ = categorical(rng, dict(zip("123", a.department_type_shares)), n)
    for s in (s for s in w.cfg.step_changes if isinstance(s, AeTypeShift)):
        here = (day >= day_number(s.date)) & _in_place(w, who, s.place) & (dtype == s.from_type - 1)
        dtype = np.where(here & (rng.random(n) < s.share), s.to_type - 1, dtype)
    winter = np.isin(w.month[day - w.window.start], (11, 0, 1, 2))
    admitted = (dtype < 2) & (rng.random(n) < admission_chance(w, who, day, winter))
    disp, dnames = categorical(rng, a.disposal, n)
    disp3, _ = categorical(rng, {k: a.type3_disposal.get(k, 0.0) for k in dnames}, n)
    dnames = dnames + ["admitted"]
    disp = np.where(admitted, len(dnames) - 1, np.where(dtype == 2, disp3, disp))
    hour, _ = categorical(rng, dict(enumerate(a.arrival_hours)), n)
    arrival = day * US_PER_DAY + (hour * 3600 + rng.integers(0, 3600, n)) * 1_000_000
    median = np.array([a.minutes[t].median for t in AE_TYPES])[dtype]
    sigma = np.array([a.minutes[t].sigma for t in AE_TYPES])[dtype]
    factor = np.where(admitted, a.admitted_minutes_factor, 1.0)
    factor = factor * np.where(winter & (dtype == 0), a.winter_minutes_factor, 1.0)
    minutes = np.maximum(np.round(median * factor * np.exp(sigma * rng.standard_normal(n))), 5)
    departure = arrival + minutes.astype(np.int64) * 60_000_000
    concluded = departure < (w.window.end + 1) * US_PER_DAY  # still in the department at the extract: not yet reported
    who, dtype, arrival, departure, disp = who[concluded], dtype[concluded], arrival[concluded], departure[concluded], disp[concluded]
    provider, site = place_option(rng, _acute(w), w.people.place[who])
    adm = disp == len(dnames) - 1
    shared.admitted = (who[adm], departure[adm] // US_PER_DAY, provider.filter(adm), site.filter(adm))
    mode, acuity = _arrival_mode_and_acuity(w, rng, who, arrival // US_PER_DAY, dtype, adm)
    return _table("ae_attendances", {
        "attendance_id": shared.ids("AE", len(who)), "nhs_number": w.nhs.take(who),
        "provider_code": provider, "site_code": site, "department_type": pa.array(dtype + 1, pa.int64()),
        "arrival": pa.array(arrival, pa.timestamp("us")),
        "departure": pa.array(departure, pa.timestamp("us")),
        "arrival_mode": pa.array(mode, pa.string()),
        "acuity": pa.array(acuity, pa.string(), mask=acuity == ""),
        "disposal": labels(disp, dnames),
    })


def _arrival_mode_and_acuity(w: World, rng: np.random.Generator, who: np.ndarray, day: np.ndarray,
                             dtype: np.ndarray, admitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ECDS arrival mode (ambulance more likely when old or admitted) and acuity ('' when not recorded)."""
    a, n = w.cfg.ae, len(who)
    decades = (w.people.age_at(day, who) - 50) / 10
    logit = (np.log(a.ambulance_share / (1 - a.ambulance_share)) + a.ambulance_log_odds_admitted * admitted
             + a.ambulance_log_odds_per_decade * decades)
    chance = np.where(dtype == 2, a.ambulance_share_type3, 1 / (1 + np.exp(-logit)))
    mode = np.where(rng.random(n) < chance, _pick(rng, a.ambulance_modes, n), _pick(rng, a.other_modes, n))
    acuity = np.where(admitted, _pick(rng, a.acuity["admitted"], n), _pick(rng, a.acuity["not_admitted"], n))
    type3 = np.where(rng.random(n) < a.acuity_recorded_type3, _pick(rng, a.acuity["type3"], n), "")
    return mode, np.where(dtype == 2, type3, acuity)


def inpatient_spells(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> dict[str, pa.Table]:
    """Emergency spells (from A&E, direct, and 30-day readmissions) and elective spells, with their codes.

    A spell from A&E starts on the day the attendance ended, at the same provider and site; an elective spell a
    GP referral led to (:mod:`placewise.sources.synth.pathways`) at the provider and in the treatment function
    referred to; other elective spells are drawn on their own. Returns the spells and their secondary diagnoses and
    procedures, as SUS admitted patient care records them.
    """
    p, ad = w.people, w.cfg.admissions
    if shared.admitted is None or shared.pathways is None:
        raise RuntimeError("inpatient spells are built after the block's A&E attendances and referrals")
    ae_who, ae_day, ae_provider, ae_site = shared.admitted
    alive = ae_day <= p.ref[ae_who]  # departed after midnight on the day they died or left: no spell
    ae_who, ae_day, ae_provider, ae_site = ae_who[alive], ae_day[alive], ae_provider.filter(alive), ae_site.filter(alive)
    d_who, d_day = draw(rng, w.cfg.activity["direct_emergency_admissions"], w, block)
    who, day = np.concatenate([ae_who, d_who]), np.concatenate([ae_day, d_day])
    old = p.age_at(day, who) >= 65
    los = np.floor(rng.exponential(np.where(old, ad.emergency_los_mean_days["65_plus"],
                                            ad.emergency_los_mean_days["under_65"]))).astype(np.int64)
    e_who, e_day = draw(rng, w.cfg.activity["elective_admissions"], w, block)
    pw_who, pw_day, pw_provider, pw_site, pw_tf = admissions(shared.pathways)
    e_who, e_day = np.concatenate([e_who, pw_who]), np.concatenate([e_day, pw_day])
    day_case = rng.random(len(e_who)) < ad.elective_day_case_share
    e_los = np.where(day_case, 0, 1 + np.floor(rng.exponential(ad.elective_los_mean_days))).astype(np.int64)
    chance = np.concatenate([np.where(old, ad.readmission_30d["65_plus"], ad.readmission_30d["under_65"]),
                             np.full(len(e_who), ad.readmission_30d["after_elective"])])
    before = np.concatenate([who, e_who])
    r_day = np.concatenate([day + los, e_day + e_los]) + rng.integers(0, 30, len(before))  # 0 to 29 days after
    readmit = (rng.random(len(before)) < chance) & (r_day <= p.ref[before])
    r_who, r_day = before[readmit], r_day[readmit]
    r_old = p.age_at(r_day, r_who) >= 65
    r_los = np.floor(rng.exponential(np.where(r_old, ad.emergency_los_mean_days["65_plus"],
                                              ad.emergency_los_mean_days["under_65"]))).astype(np.int64)
    a_rng = rng_for(w.seed, 18, block.start)  # its own stream: the other spells are drawn as without it
    a_who, a_day = _asthma_attacks(w, a_rng, block)
    a_los = np.floor(a_rng.exponential(ad.emergency_los_mean_days["under_65"], len(a_who))).astype(np.int64)
    allw = np.concatenate([who, a_who, r_who, e_who])
    adm = np.concatenate([day, a_day, r_day, e_day])
    raw_dis = adm + np.concatenate([los, a_los, r_los, e_los])
    in_hospital = (raw_dis > w.window.end) & (p.status[allw] == CURRENT)
    died = (p.status[allw] == DIED) & (raw_dis >= p.ref[allw])
    dis = np.minimum(raw_dis, p.ref[allw])
    kind = np.concatenate([np.zeros(len(ae_who), np.int64), np.ones(len(d_who) + len(a_who), np.int64),
                           np.full(len(r_who), 2), np.full(len(e_who), 3)])  # from A&E, direct, readmission, elective
    attack = np.zeros(len(allw), bool)
    attack[len(who):len(who) + len(a_who)] = True
    referred = np.zeros(len(allw), bool)  # the spells GP referrals led to: the last ones
    referred[len(allw) - len(pw_who):] = True
    provider, site = place_option(rng, _acute(w), p.place[allw])
    from_ae = kind == 0
    provider = pa.concat_arrays([ae_provider, provider.filter(~from_ae & ~referred), pw_provider])
    site = pa.concat_arrays([ae_site, site.filter(~from_ae & ~referred), pw_site])
    pw_dx, pw_proc = elective_codes(rng, pw_tf)
    order = np.lexsort((kind == 3, adm, allw))
    allw, adm, dis, kind, died, in_hospital = allw[order], adm[order], dis[order], kind[order], died[order], in_hospital[order]
    attack, referred = attack[order], referred[order]
    which = order[referred] - (len(order) - len(pw_who))  # each referred spell's place among the pathway's
    provider, site = provider.take(order), site.take(order)
    n = len(allw)
    emergency = kind < 3
    primary, cause = _emergency_diagnoses(w, rng, allw, adm)
    primary = np.where(attack, _pick(a_rng, EMERGENCY_PRIMARY_ICD10["asthma"], n), primary)
    e_dx, e_tf, e_proc = _elective_codes(rng, n)
    e_dx[referred], e_tf[referred], e_proc[referred] = pw_dx[which], pw_tf[which], pw_proc[which]
    primary = np.where(emergency, primary, e_dx)
    cause = np.where(emergency, cause, "")
    tf = np.where(emergency, _emergency_treatment_functions(w, rng, allw, adm, cause), e_tf)
    method = np.where(kind == 0, "21", np.where(kind == 1, _pick(rng, ad.method_codes["direct"], n),
                      np.where(kind == 2, _pick(rng, ad.method_codes["readmission"], n), _pick(rng, ad.method_codes["elective"], n))))
    discharge_method = np.where(died, "4", np.where(rng.random(n) < ad.self_discharge_share, "2", "1"))
    destination = np.where(died, "79", _pick(rng, ad.discharge_destination, n))
    spell_id = shared.ids("IP", n)
    spells = _table("inpatient_spells", {
        "spell_id": spell_id, "nhs_number": w.nhs.take(allw), "provider_code": provider, "site_code": site,
        "admission_method": labels(emergency.astype(np.int64), ["elective", "emergency"]),
        "admission_method_code": pa.array(method, pa.string()),
        "admission_source": pa.array(_pick(rng, ad.admission_source, n), pa.string()),
        "admission_date": dates(adm), "discharge_date": nullable_dates(dis, ~in_hospital),
        "discharge_method": pa.array(discharge_method, pa.string(), mask=in_hospital),
        "discharge_destination": pa.array(destination, pa.string(), mask=in_hospital),
        "primary_diagnosis": pa.array(primary, pa.string()), "treatment_function": pa.array(tf, pa.string()),
    })
    return {"inpatient_spells": spells,
            "inpatient_diagnoses": _secondary_diagnoses(w, rng, spell_id, allw, adm, cause),
            "inpatient_procedures": _procedures(rng, spell_id, adm, dis, emergency, primary, e_proc)}


def _asthma_attacks(w: World, rng: np.random.Generator, block: slice) -> tuple[np.ndarray, np.ndarray]:
    """Emergency admissions for an asthma attack of children and young people (under 19) with diagnosed asthma,
    beyond their other admissions: from diagnosis until the asthma resolved or they turned 19 (not readmitted)."""
    p = w.people
    first = np.minimum(p.diagnosed["asthma"], p.ref + 1)  # never diagnosed: no time at risk
    who, day = draw(rng, w.cfg.activity["children_asthma_attacks"], w, block, first=first)
    keep = (p.age_at(day, who) < 19) & (day < p.resolved["asthma"][who])
    return who[keep], day[keep]


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    """``n`` codes drawn with the given relative weights."""
    idx, names = categorical(rng, weights, n)
    return np.array(names, dtype=object)[idx] if n else np.zeros(0, dtype=object)


def _emergency_diagnoses(w: World, rng: np.random.Generator, who: np.ndarray,
                         day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primary ICD-10 diagnosis and external cause ('' if none) of emergency spells.

    Falls at 65+ are coded as SUS codes them: an injury (S00-T98) primary and the fall (W00-W19) as the
    external cause in the first secondary position; other injuries carry another cause.
    """
    p, ad = w.people, w.cfg.admissions
    n = len(who)
    dx = _pick(rng, OTHER_EMERGENCY_ICD10, n)
    for cond, share in ad.condition_share.items():
        has = p.diagnosed[cond][who] <= day
        dx = np.where(has & (rng.random(n) < share), _pick(rng, EMERGENCY_PRIMARY_ICD10[cond], n), dx)
    child = (p.age_at(day, who) < 16) & (p.diagnosed["asthma"][who] <= day) & (rng.random(n) < ad.asthma_share_children)
    dx = np.where(child, _pick(rng, EMERGENCY_PRIMARY_ICD10["asthma"], n), dx)
    old = p.age_at(day, who) >= 65
    u = rng.random(n)
    fell = old & (u < ad.falls_share_65_plus)
    other_injury = old & ~fell & (u < ad.falls_share_65_plus + ad.other_injury_share_65_plus)
    injured = fell | other_injury
    dx = np.where(injured, _pick(rng, FALL_INJURY_PRIMARY_ICD10, n), dx)
    cause = np.where(fell, _pick(rng, FALL_EXTERNAL_CAUSE_ICD10, n),
                     np.where(other_injury, _pick(rng, OTHER_INJURY_CAUSE_ICD10, n), ""))
    return dx, cause


def _elective_codes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Primary diagnosis, treatment function and primary procedure of ``n`` elective spells."""
    k, names = categorical(rng, {d: v[0] for d, v in ELECTIVE_PRIMARY.items()}, n)
    procedure = np.empty(n, dtype=object)
    for j, d in enumerate(names):
        here = k == j
        procedure[here] = _pick(rng, ELECTIVE_PRIMARY[d][2], int(here.sum()))
    return np.array(names, dtype=object)[k], np.array([ELECTIVE_PRIMARY[d][1] for d in names], dtype=object)[k], procedure


def _emergency_treatment_functions(w: World, rng: np.random.Generator, who: np.ndarray, day: np.ndarray,
                                   cause: np.ndarray) -> np.ndarray:
    """Treatment function of emergency spells: paediatrics for children, orthopaedics or geriatrics after a fall."""
    n = len(who)
    tf = _pick(rng, w.cfg.admissions.emergency_treatment_functions, n)
    tf = np.where(w.people.age_at(day, who) < 16, "420", tf)
    return np.where(cause != "", np.where(rng.random(n) < 0.6, "110", "430"), tf)


def _secondary_diagnoses(w: World, rng: np.random.Generator, spell_id: pa.Array, who: np.ndarray,
                         day: np.ndarray, cause: np.ndarray) -> pa.Table:
    """Secondary diagnoses in coded order: the external cause (and place) of an injury, then comorbidities."""
    ad, n = w.cfg.admissions, len(who)
    idx = np.arange(n)
    injured = cause != ""
    place = injured & (rng.random(n) < ad.place_of_occurrence_share)
    parts = [(idx[injured], cause[injured]), (idx[place], _pick(rng, PLACE_OF_OCCURRENCE_ICD10, int(place.sum())))]
    for cond, codes_c in COMORBIDITY_ICD10.items():
        has = (w.people.diagnosed[cond][who] <= day) & (rng.random(n) < ad.comorbidity_coded_share)
        parts.append((idx[has], _pick(rng, codes_c, int(has.sum()))))
    spell = np.concatenate([s for s, _ in parts])
    code = np.concatenate([c for _, c in parts]).astype(object)
    rank = np.concatenate([np.full(len(s), k) for k, (s, _) in enumerate(parts)])
    order = np.lexsort((rank, spell))
    spell, code = spell[order], code[order]
    start = np.searchsorted(spell, spell, side="left")
    position = 2 + np.arange(len(spell)) - start
    keep = position <= 24
    return _table("inpatient_diagnoses", {
        "spell_id": spell_id.take(spell[keep]), "position": pa.array(position[keep], pa.int64()),
        "icd10_code": pa.array(code[keep], pa.string()),
    })


def _procedures(rng: np.random.Generator, spell_id: pa.Array, adm: np.ndarray, dis: np.ndarray,
                emergency: np.ndarray, primary: np.ndarray, elective_procedure: np.ndarray) -> pa.Table:
    """Primary procedure (position 1): every elective spell's, and some emergency spells' (hip fracture, MI)."""
    n = len(adm)
    code = np.where(emergency, "", elective_procedure).astype(object)
    for dx, procs in EMERGENCY_PROCEDURES.items():
        hit = emergency & (primary == dx) & (rng.random(n) < EMERGENCY_PROCEDURE_SHARE)
        code = np.where(hit, _pick(rng, procs, n), code)
    has = code != ""
    on = np.minimum(adm + np.where(emergency, rng.integers(0, 3, n), 0), dis)
    return _table("inpatient_procedures", {
        "spell_id": spell_id.filter(pa.array(has)), "position": pa.array(np.ones(int(has.sum()), np.int64)),
        "opcs4_code": pa.array(code[has], pa.string()), "procedure_date": dates(on[has]),
    })


def outpatient_appointments(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """Outpatient appointments: first or follow-up, outcome and referral source.

    The appointments of GP referrals' pathways (:mod:`placewise.sources.synth.pathways`), in the treatment function
    and at the provider referred to, and others drawn on their own (other sources, and follow-up of pathways begun
    before the window), sorted by person then day."""
    if shared.pathways is None:
        raise RuntimeError("outpatient appointments are built after the block's referrals")
    who, day = draw(rng, w.cfg.activity["outpatient_appointments"], w, block)
    o, n = w.cfg.outpatients, len(who)
    u = rng.random(n)
    outcome = np.where(u < o.dna_rate, 1, np.where(u < o.dna_rate + o.cancelled_rate, 2, 0))
    src, snames = categorical(rng, o.referral_source, n)
    provider, _ = place_option(rng, _acute(w), w.people.place[who])
    tf = _pick(rng, o.treatment_functions, n)
    first = rng.random(n) < o.first_share
    a, a_provider, a_tf = appointments(shared.pathways)
    gp = snames.index("gp") if "gp" in snames else len(snames)
    snames = snames if "gp" in snames else [*snames, "gp"]
    who, day = np.concatenate([who, a.who]), np.concatenate([day, a.day])
    provider = pa.concat_arrays([provider, a_provider])
    tf = np.concatenate([tf, a_tf])
    first, outcome = np.concatenate([first, a.first]), np.concatenate([outcome, a.outcome])
    src = np.concatenate([src, np.full(len(a.who), gp)])
    order = np.lexsort((day, who))
    n = len(order)
    return _table("outpatient_appointments", {
        "appointment_id": shared.ids("OP", n), "nhs_number": w.nhs.take(who[order]),
        "provider_code": provider.take(order), "treatment_function": pa.array(tf[order], pa.string()),
        "appointment_date": dates(day[order]), "first_attendance": pa.array(first[order]),
        "attendance": labels(outcome[order], ["attended", "did_not_attend", "cancelled"]),
        "referral_source": labels(src[order], snames),
    })


def referrals(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """GP referrals; each practice's own multiplier makes the between-practice variation genuine. What each leads to
    is drawn here (:func:`placewise.sources.synth.pathways.draw_pathways`) for the outpatient appointments and
    spells built after it."""
    stream = w.cfg.activity["referrals"]
    top = float(w.prac.referral_multiplier.max())
    who, day = draw(rng, stream, w, block, multiplier=top)
    prac = w.people.practice_at(day, who)
    keep = rng.random(len(who)) < w.prac.referral_multiplier[prac] / top  # thinning: rate x practice multiplier
    who, day, prac = who[keep], day[keep], prac[keep]
    m, n = w.cfg.referrals_mix, len(who)
    prio, pnames = categorical(rng, m.priority, n)
    provider, site = place_option(rng, _acute(w), w.people.place[who])
    tf = _pick(rng, m.treatment_functions, n)
    referral_id = shared.ids("RF", n)
    made = Referrals(referral_id, who, day, tf, prio, pnames, provider, site)
    shared.pathways = [draw_pathways(w, block, made), draw_pathways(w, block, earlier_referrals(w, made), earlier=True)]
    shared.pathway_truth.append(truth_rows(shared.pathways[0]))
    shared.clocks += [clocks(p) for p in shared.pathways]
    return _table("referrals", {
        "referral_id": referral_id, "nhs_number": w.nhs.take(who),
        "practice_code": labels(prac, w.prac.code), "provider_code": provider,
        "treatment_function": pa.array(tf, pa.string()),
        "referral_date": dates(day), "priority": labels(prio, pnames),
    })


def mental_health_contacts(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """Mental health contacts: children's services under 18, otherwise by service mix; Talking Therapies courses."""
    who, day = draw(rng, w.cfg.activity["mental_health_contacts"], w, block)
    mh = w.cfg.mental_health
    adult = {k: v for k, v in mh.services.items() if k != "children_and_young_people"}
    svc, names = categorical(rng, adult, len(who))
    names = names + ["children_and_young_people", "talking_therapies"]
    svc = np.where(w.people.age_at(day, who) < 18, len(names) - 2, svc)
    t_who, t_day = _talking_therapies(w, rng, block)
    who, day = np.concatenate([who, t_who]), np.concatenate([day, t_day])
    svc = np.concatenate([svc, np.full(len(t_who), len(names) - 1)])
    order = np.lexsort((day, who))
    who, day, svc, n = who[order], day[order], svc[order], len(who)
    provider = [w.cfg.providers_by_place[c].mental_health for c in w.place_codes]
    return _table("mental_health_contacts", {
        "contact_id": shared.ids("MH", n), "nhs_number": w.nhs.take(who),
        "provider_code": labels(w.people.place[who], provider), "service": labels(svc, names),
        "contact_date": dates(day), "attended": pa.array(rng.random(n) < mh.attended),
    })


def _talking_therapies(w: World, rng: np.random.Generator, block: slice) -> tuple[np.ndarray, np.ndarray]:
    """NHS Talking Therapies sessions of adults: courses start at the stream's rate, then sessions every week or two."""
    mh = w.cfg.mental_health
    who, start = draw(rng, w.cfg.activity["talking_therapies_courses"], w, block)
    adult = w.people.age_at(start, who) >= 18
    who, start = who[adult], start[adult]
    sessions = 1 + rng.poisson(mh.sessions_per_course - 1, len(who))
    k = np.repeat(np.arange(len(who)), sessions)
    step = np.arange(len(k)) - np.repeat(np.cumsum(sessions) - sessions, sessions)
    lo, hi = mh.session_interval_days
    day = start[k] + step * rng.integers(lo, hi + 1, len(k))
    keep = day <= w.people.ref[who[k]]
    return who[k][keep], day[keep]


def community_contacts(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """Community health contacts, mostly older and frail people."""
    who, day = draw(rng, w.cfg.activity["community_contacts"], w, block)
    svc, names = categorical(rng, w.cfg.community.services, len(who))
    provider = [w.cfg.providers_by_place[c].community for c in w.place_codes]
    return _table("community_contacts", {
        "contact_id": shared.ids("CC", len(who)), "nhs_number": w.nhs.take(who),
        "provider_code": labels(w.people.place[who], provider), "service": labels(svc, names),
        "contact_date": dates(day),
    })


def social_care_services(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> pa.Table:
    """Adult social care services with start and end (open while the person is alive and registered)."""
    who, day = draw(rng, w.cfg.activity["social_care_services"], w, block)
    sc, p, n = w.cfg.social_care, w.people, len(who)
    svc, names = categorical(rng, sc.services, n)
    end = day + np.ceil(rng.exponential(sc.mean_duration_days, n)).astype(np.int64)
    current = p.status[who] == CURRENT
    still_open = current & ((end > w.window.end) | (rng.random(n) < sc.open_share))
    end = np.minimum(end, p.ref[who])
    return _table("social_care_services", {
        "service_id": shared.ids("SC", n), "nhs_number": w.nhs.take(who),
        "la_code": labels(p.place[who], list(w.place_codes)), "service_type": labels(svc, names),
        "start_date": dates(day), "end_date": nullable_dates(end, ~still_open),
    })


def _in_place(w: World, who: np.ndarray, place: str | None) -> np.ndarray:
    """Whether each person lives in ``place`` (every Place when ``place`` is None)."""
    if place is None:
        return np.ones(len(who), dtype=bool)
    return w.people.place[who] == w.place_codes.index(place)


BUILDERS = {
    "gp_appointments": (20, gp_appointments),
    "ae_attendances": (21, ae_attendances),
    "referrals": (24, referrals),
    "inpatient_spells": (22, inpatient_spells),
    "outpatient_appointments": (23, outpatient_appointments),
    "mental_health_contacts": (25, mental_health_contacts),
    "community_contacts": (26, community_contacts),
    "social_care_services": (27, social_care_services),
}
"""Activity tables built block by block, in the order they are built (referrals before the appointments and spells
they lead to), each with its random stream's number."""
