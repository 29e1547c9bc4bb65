"""The scoring maths on small examples worked by hand (the working is in the comments)."""

from __future__ import annotations

import math

import pytest

from judging.agreement import Exclusion, agreement, average_ranks, interpret_w, kendalls_w
from judging.scoring import (
    COMBINED,
    NORMALISED,
    RAW,
    CriterionSpec,
    Sheet,
    audience_scores,
    combine,
    compute,
    weighted_total,
    z_scores,
)
from judging.tie_breaks import CHAIR, SPREAD, UNRESOLVED, describe_rule, rank, validate_chain

approx = pytest.approx

# One criterion on 0..10: a judge's weighted total is simply 10 x the mark, which keeps the working short.
MARK = CriterionSpec(1, "mark", "Mark", 0, 10, 1)
# Two criteria on 1..10 with equal weights: total = 100 x ((impact - 1) + (pitch - 1)) / 18.
IMPACT = CriterionSpec(1, "social_impact", "Social impact", 1, 10, 1)
PITCH = CriterionSpec(2, "pitch", "Pitch", 1, 10, 1)


def marks(judge: int, **by_entrant: int) -> list[Sheet]:
    """Sheets on the one-criterion MARK rubric: marks(1, e1=9) -> judge 1 gave entrant 1 a 9."""
    return [Sheet(judge, int(e[1:]), {MARK.id: v}) for e, v in by_entrant.items()]


def two(judge: int, entrant: int, impact: int, pitch: int) -> Sheet:
    return Sheet(judge, entrant, {IMPACT.id: impact, PITCH.id: pitch})


# --- weighted totals --------------------------------------------------------------------------------

def test_weighted_total_normalises_each_scale_then_weights():
    a = CriterionSpec(1, "a", "A", 1, 10, 3)
    b = CriterionSpec(2, "b", "B", 1, 5, 1)
    # A=10 on 1..10 -> (10-1)/9 = 1; B=3 on 1..5 -> (3-1)/4 = 0.5
    # (3 x 1 + 1 x 0.5) / (3 + 1) x 100 = 3.5 / 4 x 100 = 87.5
    assert weighted_total({1: 10, 2: 3}, [a, b]) == approx(87.5)
    # A=4 -> 3/9 = 1/3; B=5 -> 1: (3 x 1/3 + 1 x 1) / 4 x 100 = 2 / 4 x 100 = 50
    assert weighted_total({1: 4, 2: 5}, [a, b]) == approx(50.0)
    assert weighted_total({1: 1, 2: 1}, [a, b]) == 0.0  # lowest mark everywhere
    assert weighted_total({1: 10, 2: 5}, [a, b]) == approx(100.0)  # top mark everywhere


def test_weighted_total_refuses_incomplete_or_out_of_scale_sheets():
    with pytest.raises(ValueError, match="missing for: pitch"):
        weighted_total({1: 5}, [IMPACT, PITCH])
    with pytest.raises(ValueError, match="outside 1..10"):
        weighted_total({1: 11, 2: 5}, [IMPACT, PITCH])
    with pytest.raises(ValueError, match="outside 1..10"):
        weighted_total({1: 0, 2: 5}, [IMPACT, PITCH])
    with pytest.raises(ValueError, match="not in the rubric"):
        weighted_total({1: 5, 2: 5, 99: 5}, [IMPACT, PITCH])
    with pytest.raises(ValueError):
        CriterionSpec(3, "bad", "Bad", 5, 5, 1)
    with pytest.raises(ValueError):
        CriterionSpec(3, "bad", "Bad", 1, 5, 0)


# --- z-scores -------------------------------------------------------------------------------------

def test_z_scores_use_each_judges_own_mean_and_population_sd():
    # Judge 1: 90, 80, 70 -> mean 80, sd = sqrt((100 + 0 + 100) / 3) = sqrt(200/3) = 8.16497
    #   z = +10/8.16497 = +1.224745, 0, -1.224745
    # Judge 2: 50, 30 -> mean 40, sd = sqrt((100 + 100) / 2) = 10; z = +1, -1
    totals = {(1, 1): 90.0, (1, 2): 80.0, (1, 3): 70.0, (2, 1): 50.0, (2, 2): 30.0}
    z, stats = z_scores(totals)
    assert stats[1].mean == approx(80) and stats[1].sd == approx(math.sqrt(200 / 3))
    assert stats[2].mean == approx(40) and stats[2].sd == approx(10)
    assert z[(1, 1)] == approx(1.224745, abs=1e-6) and z[(1, 2)] == approx(0) and z[(1, 3)] == approx(-1.224745, abs=1e-6)
    assert z[(2, 1)] == approx(1) and z[(2, 2)] == approx(-1)


def test_a_judge_with_zero_spread_gives_everyone_z_zero():
    # Judge 1 gave everyone 60 (sd 0); judge 2 scored one entrant only (sd of one value is 0).
    z, stats = z_scores({(1, 1): 60.0, (1, 2): 60.0, (2, 1): 95.0})
    assert stats[1].zero_spread and stats[2].zero_spread
    assert z == {(1, 1): 0.0, (1, 2): 0.0, (2, 1): 0.0}


# --- a full result with a recusal and a judge who scored nothing ---------------------------------

def lenient_and_harsh():
    """Judge 1 is lenient (90, 80, 70); judge 2 is harsh (50, 30) and recused from entrant 3;
    judge 3 is on the panel but has submitted nothing."""
    return compute(
        criteria=[MARK], entrants=[1, 2, 3], judges=[1, 2, 3],
        sheets=marks(1, e1=9, e2=8, e3=7) + marks(2, e1=5, e2=3),
        recusals=[(2, 3)], tie_break=[SPREAD, CHAIR],
    )


def test_raw_means_average_only_the_judges_who_scored():
    r = lenient_and_harsh()
    # Entrant 1: (90 + 50) / 2 = 70; entrant 2: (80 + 30) / 2 = 55; entrant 3: 70 (judge 1 only).
    assert r.entrants[1].raw_mean == approx(70)
    assert r.entrants[2].raw_mean == approx(55)
    assert r.entrants[3].raw_mean == approx(70)
    assert r.entrants[3].judges == (1,)
    # Spread between judges: entrant 1: 90 and 50 -> pop sd 20; entrant 3: one judge -> 0.
    assert r.entrants[1].raw_sd == approx(20) and r.entrants[3].raw_sd == 0


def test_recusals_and_missing_scores_are_reported():
    r = lenient_and_harsh()
    assert r.recusals == ((2, 3),)
    assert r.entrants[3].recused == (2,)
    assert r.entrants[3].missing == (3,)  # judge 3 never submitted; judge 2 recused, so is not "missing"
    assert r.entrants[1].missing == (3,) and r.entrants[1].recused == ()
    assert r.unscored == ()


def test_raw_ranking_breaks_the_tie_with_the_declared_chain_and_records_the_rule():
    r = lenient_and_harsh()
    # Entrants 1 and 3 tie on 70. First rule "spread": entrant 3's sd 0 beats entrant 1's sd 20.
    assert [(p.entrant, p.rank) for p in r.raw.places] == [(3, 1), (1, 2), (2, 3)]
    assert len(r.raw.ties) == 1
    tie = r.raw.ties[0]
    assert set(tie.entrants) == {1, 3} and tie.value == approx(70)
    assert tie.rule == SPREAD and tie.order == ((3,), (1,))


def test_normalised_ranking_corrects_for_the_lenient_judge():
    r = lenient_and_harsh()
    # z from test_z_scores_use_each_judges_own_mean_and_population_sd:
    #   entrant 1: (1.224745 + 1) / 2 = 1.112372; entrant 2: (0 + -1) / 2 = -0.5; entrant 3: -1.224745
    # Entrant 3 was the lenient judge's lowest: raw put it first, normalised puts it last.
    assert r.entrants[1].mean_z == approx(1.112372, abs=1e-6)
    assert r.entrants[2].mean_z == approx(-0.5)
    assert r.entrants[3].mean_z == approx(-1.224745, abs=1e-6)
    assert [p.entrant for p in r.normalised.places] == [1, 2, 3]
    assert [p.rank for p in r.normalised.places] == [1, 2, 3]
    assert r.normalised.ties == ()
    assert r.raw.measure == RAW and r.normalised.measure == NORMALISED and r.combined is None


def test_kendalls_w_uses_the_complete_block_and_says_what_it_left_out():
    a = lenient_and_harsh().agreement
    # Judge 3 scored nothing; entrant 3 lacks judge 2 (recused). Block: judges 1, 2 x entrants 1, 2.
    # Both judges rank entrant 1 above entrant 2: rank sums 2 and 4, mean 3, S = 1 + 1 = 2;
    # W = 12 x 2 / (2^2 x (2^3 - 2)) = 24 / 24 = 1.
    assert a.judges == (1, 2) and a.entrants == (1, 2)
    assert a.excluded_judges == (3,)
    assert a.excluded_entrants == {3: Exclusion(recused_by=(2,))}
    assert str(a.excluded_entrants[3]) == "recusal by judge 2"
    assert a.w == approx(1.0)
    assert a.interpretation.startswith("W = 1.00, very strong")


def test_a_sheet_from_a_recused_judge_is_refused():
    with pytest.raises(ValueError, match="recused"):
        compute(criteria=[MARK], entrants=[1], judges=[1], sheets=marks(1, e1=5), recusals=[(1, 1)])


def test_an_entrant_nobody_scored_is_left_unranked():
    r = compute(criteria=[MARK], entrants=[1, 2], judges=[1], sheets=marks(1, e1=5))
    assert r.unscored == (2,)
    assert [p.entrant for p in r.raw.places] == [1]
    assert r.entrants[2].raw_mean is None and r.entrants[2].missing == (1,)


# --- z gives every judge an equal voice -------------------------------------------------------------

def test_z_scores_give_a_narrow_marker_as_much_say_as_a_wide_one():
    # Judge 1 marks wide: 100, 0, 50. Judge 2 marks narrow and the other way round: 40, 60, 50.
    # Raw means: e1 (100 + 40) / 2 = 70, e2 (0 + 60) / 2 = 30, e3 50 -> the wide marker decides.
    # z: judge 1 mean 50, sd sqrt(5000/3) = 40.82 -> +1.2247, -1.2247, 0
    #    judge 2 mean 50, sd sqrt(200/3) = 8.165 -> -1.2247, +1.2247, 0
    # mean z = 0 for all three: the judges cancel out exactly, so all share first place (no chain).
    r = compute(criteria=[MARK], entrants=[1, 2, 3], judges=[1, 2],
                sheets=marks(1, e1=10, e2=0, e3=5) + marks(2, e1=4, e2=6, e3=5))
    assert [r.entrants[e].raw_mean for e in (1, 2, 3)] == [approx(70), approx(30), approx(50)]
    assert [p.entrant for p in r.raw.places] == [1, 3, 2]
    assert all(r.entrants[e].mean_z == approx(0, abs=1e-12) for e in (1, 2, 3))
    assert [(p.entrant, p.rank) for p in r.normalised.places] == [(1, 1), (2, 1), (3, 1)]
    assert len(r.normalised.ties) == 1 and r.normalised.ties[0].rule == UNRESOLVED
    # They also disagree completely: rank sums 1+3=4, 3+1=4, 2+2=4 -> S = 0 -> W = 0.
    assert r.agreement.w == approx(0.0)
    assert "very weak" in r.agreement.interpretation


# --- the tie-break chain ----------------------------------------------------------------------------

def test_higher_social_impact_breaks_a_tie_first():
    # Entrant 1: impact 10, pitch 4 -> (9 + 3) / 18 x 100 = 66.67
    # Entrant 2: impact 4, pitch 10 -> (3 + 9) / 18 x 100 = 66.67  (tied)
    # Entrant 3: impact 1, pitch 1 -> 0
    r = compute(criteria=[IMPACT, PITCH], entrants=[1, 2, 3], judges=[1],
                sheets=[two(1, 1, 10, 4), two(1, 2, 4, 10), two(1, 3, 1, 1)],
                tie_break=["criterion:social_impact", SPREAD, CHAIR])
    assert r.entrants[1].raw_mean == approx(200 / 3) and r.entrants[2].raw_mean == approx(200 / 3)
    assert [(p.entrant, p.rank) for p in r.raw.places] == [(1, 1), (2, 2), (3, 3)]
    assert [(t.entrants, t.rule) for t in r.raw.ties] == [((1, 2), "criterion:social_impact")]
    assert r.raw.tie_rules(1) == ["criterion:social_impact"] and r.raw.tie_rules(3) == []


def test_a_three_way_tie_resolved_by_two_rules_records_both():
    # Every entrant's raw mean is 50 (total = 100 x ((impact - 1) + (pitch - 1)) / 18):
    #   e1: judges 1 and 2 both (10, 1): (9 + 0) / 18 = 50 and 50 -> mean 50, sd 0, impact mean 10
    #   e2: judge 1 (4, 10) = 12/18 = 66.67, judge 2 (1, 7) = 6/18 = 33.33 -> mean 50, sd 16.67,
    #       impact mean (4 + 1) / 2 = 2.5
    #   e3: judge 1 (4, 7) = 9/18 = 50, judge 2 (1, 10) = 9/18 = 50 -> mean 50, sd 0, impact mean 2.5
    # Rule 1 (impact) puts e1 first and leaves e2, e3 tied on 2.5; rule 2 (spread) puts e3 (0) before
    # e2 (16.67). Two ties are recorded, each with the rule that separated it.
    sheets = [
        two(1, 1, 10, 1), two(2, 1, 10, 1),
        two(1, 2, 4, 10), two(2, 2, 1, 7),
        two(1, 3, 4, 7), two(2, 3, 1, 10),
    ]
    r = compute(criteria=[IMPACT, PITCH], entrants=[1, 2, 3], judges=[1, 2], sheets=sheets,
                tie_break=["criterion:social_impact", SPREAD, CHAIR])
    assert [r.entrants[e].raw_mean for e in (1, 2, 3)] == [approx(50), approx(50), approx(50)]
    assert r.entrants[2].raw_sd == approx(50 / 3) and r.entrants[3].raw_sd == approx(0)
    assert [(p.entrant, p.rank) for p in r.raw.places] == [(1, 1), (3, 2), (2, 3)]
    assert [(t.entrants, t.rule, t.order) for t in r.raw.ties] == [
        ((1, 2, 3), "criterion:social_impact", ((1,), (2, 3))),
        ((2, 3), SPREAD, ((3,), (2,))),
    ]


def test_the_chairs_casting_decision_is_last_and_unlisted_entrants_stay_tied():
    # Both judges give entrants 1 and 2 identical sheets: equal totals, impact and spread.
    sheets = [two(j, e, 6, 6) for j in (1, 2) for e in (1, 2)] + [two(1, 3, 1, 1), two(2, 3, 1, 1)]
    chain = ["criterion:social_impact", SPREAD, CHAIR]
    r = compute(criteria=[IMPACT, PITCH], entrants=[1, 2, 3], judges=[1, 2], sheets=sheets,
                tie_break=chain, chair_order=[2, 1])
    assert [(p.entrant, p.rank) for p in r.raw.places] == [(2, 1), (1, 2), (3, 3)]
    assert [(t.entrants, t.rule) for t in r.raw.ties] == [((1, 2), CHAIR)]
    # No casting decision given yet: still tied after the chain, they share first place.
    r = compute(criteria=[IMPACT, PITCH], entrants=[1, 2, 3], judges=[1, 2], sheets=sheets, tie_break=chain)
    assert [(p.entrant, p.rank) for p in r.raw.places] == [(1, 1), (2, 1), (3, 3)]
    assert [(t.entrants, t.rule) for t in r.raw.ties] == [((1, 2), UNRESOLVED)]


def test_rank_with_keys_missing_for_some_entrants():
    # Chair lists only entrant 3 among a three-way tie: 3 first, then 1 and 2 still tied (shared rank 2).
    ranking = rank({1: 5.0, 2: 5.0, 3: 5.0}, [CHAIR], lambda rule, e: {3: 0}.get(e), RAW)
    assert [(p.entrant, p.rank) for p in ranking.places] == [(3, 1), (1, 2), (2, 2)]
    assert [(t.entrants, t.rule) for t in ranking.ties] == [((1, 2, 3), CHAIR), ((1, 2), UNRESOLVED)]


def test_validate_and_describe_the_chain():
    keys = ["social_impact", "pitch"]
    assert validate_chain(["criterion:social_impact", SPREAD, CHAIR], keys) == []
    assert validate_chain(["criterion:nope"], keys) == ["“criterion:nope” is not a tie-break rule for this rubric."]
    assert validate_chain([SPREAD, SPREAD], keys) == ["Each tie-break rule can be used once."]
    assert describe_rule("criterion:social_impact", [IMPACT]) == "higher mean “Social impact” score"
    assert "standard deviation" in describe_rule(SPREAD)
    assert "chair" in describe_rule(CHAIR)
    with pytest.raises(ValueError, match="not a tie-break rule"):
        compute(criteria=[MARK], entrants=[1], judges=[1], sheets=[], tie_break=["coin toss"])


# --- Kendall's W ------------------------------------------------------------------------------------

def test_average_ranks_share_tied_places():
    # 30, 30, 20, 10 -> the two 30s share ranks 1 and 2: 1.5 each; one tie of t = 2: 2^3 - 2 = 6.
    ranks, correction = average_ranks({1: 30, 2: 30, 3: 20, 4: 10})
    assert ranks == {1: 1.5, 2: 1.5, 3: 3, 4: 4} and correction == 6


def test_kendalls_w_with_the_tie_correction():
    table = {
        1: {1: 40, 2: 30, 3: 20, 4: 10},  # ranks 1, 2, 3, 4
        2: {1: 40, 2: 20, 3: 30, 4: 10},  # ranks 1, 3, 2, 4
        3: {1: 30, 2: 30, 3: 20, 4: 10},  # ranks 1.5, 1.5, 3, 4 (one tie, t = 2)
    }
    # Rank sums R = 3.5, 6.5, 8, 12 (total 30 = m n (n + 1) / 2); mean 7.5
    # S = (-4)^2 + (-1)^2 + 0.5^2 + 4.5^2 = 16 + 1 + 0.25 + 20.25 = 37.5
    # Ties: sum T = 2^3 - 2 = 6. Denominator m^2 (n^3 - n) - m sum T = 9 x 60 - 3 x 6 = 522
    # W = 12 x 37.5 / 522 = 450 / 522 = 0.862069 (0.8333 = 450 / 540 without the correction)
    assert kendalls_w(table) == approx(450 / 522)


def test_kendalls_w_extremes():
    assert kendalls_w({1: {1: 3, 2: 2, 3: 1}, 2: {1: 9, 2: 5, 3: 0}}) == approx(1.0)
    assert kendalls_w({1: {1: 3, 2: 2, 3: 1}, 2: {1: 1, 2: 2, 3: 3}}) == approx(0.0)
    assert kendalls_w({1: {1: 5, 2: 5}, 2: {1: 7, 2: 7}}) is None  # every judge tied everyone: 0 / 0
    with pytest.raises(ValueError):
        kendalls_w({1: {1: 3, 2: 2}})  # one judge
    with pytest.raises(ValueError):
        kendalls_w({1: {1: 3, 2: 2}, 2: {1: 3, 3: 2}})  # not the same entrants


def test_agreement_reports_missing_scores_and_too_small_blocks():
    totals = {(1, 1): 50.0, (1, 2): 40.0, (2, 1): 60.0}  # judge 2 has no score for entrant 2
    a = agreement(totals, judges=[1, 2], entrants=[1, 2])
    assert a.w is None and a.entrants == (1,)
    assert a.excluded_entrants == {2: Exclusion(not_scored_by=(2,))}
    assert str(a.excluded_entrants[2]) == "no score from judge 2"
    assert a.interpretation == "Needs at least two entrants scored by every judge."
    a = agreement({(1, 1): 50.0, (1, 2): 40.0}, judges=[1], entrants=[1, 2])
    assert a.w is None and a.reason == "Needs at least two judges with scores."
    a = agreement({(1, 1): 50.0, (1, 2): 50.0, (2, 1): 70.0, (2, 2): 70.0}, judges=[1, 2], entrants=[1, 2])
    assert a.w is None and "same total" in a.reason


def test_interpretation_bands():
    assert "very weak" in interpret_w(0.05)
    assert "weak" in interpret_w(0.2) and "very" not in interpret_w(0.2)
    assert "moderate" in interpret_w(0.4)
    assert "strong" in interpret_w(0.6) and "very" not in interpret_w(0.6)
    assert interpret_w(0.862).startswith("W = 0.86, very strong")


# --- the combined result ----------------------------------------------------------------------------

def test_combined_result_with_weights_fixed_in_advance():
    # Raw means from lenient_and_harsh's sheets without the recusal: e1 (90 + 50) / 2 = 70,
    # e2 (80 + 30) / 2 = 55. Votes: e1 10, e2 40 -> audience scores 100 x 10/40 = 25 and 100.
    # Judges 80 %, audience 20 %: e1 = 0.8 x 70 + 0.2 x 25 = 56 + 5 = 61; e2 = 0.8 x 55 + 0.2 x 100 = 64.
    r = compute(criteria=[MARK], entrants=[1, 2], judges=[1, 2],
                sheets=marks(1, e1=9, e2=8) + marks(2, e1=5, e2=3),
                audience_votes={1: 10, 2: 40}, audience_percent=20)
    assert r.entrants[1].audience_score == approx(25) and r.entrants[2].audience_score == approx(100)
    assert r.entrants[1].combined == approx(61) and r.entrants[2].combined == approx(64)
    assert [p.entrant for p in r.raw.places] == [1, 2]
    assert r.combined is not None and r.combined.measure == COMBINED
    assert [p.entrant for p in r.combined.places] == [2, 1]  # the audience turned it round


def test_audience_scores_and_combine_edges():
    assert audience_scores({1: 0, 2: 0}) == {1: 0.0, 2: 0.0}
    assert audience_scores({1: 3, 2: 6}) == {1: 50.0, 2: 100.0}
    assert combine(70, 25, 0) == 70  # audience weight 0: judges only
    assert combine(70, 25, 100) == 25
    with pytest.raises(ValueError):
        combine(70, 25, 101)
