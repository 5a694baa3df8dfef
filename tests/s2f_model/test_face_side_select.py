"""Choosing the face decoder among seeded candidates by a score on validation persons."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from s2f_model import FaceSideSettings, pretrain_face_side
from s2f_model._face_images import decode_features
from s2f_model._face_side import _train_decoder, face_features
from s2f_model._face_side_data import render_face_set
from s2f_model._face_side_select import SCORED_SHRINKS, candidate_seed, train_candidate

TINY = {"n_persons": 6, "encoder_steps": 2, "decoder_steps": 3, "batch_size": 2}


class _Scripted:
    """Score callable returning the given scores in turn and keeping what it was shown."""

    def __init__(self, scores):
        self.scores, self.seen = list(scores), []

    def __call__(self, images, persons):
        self.seen.append((images.copy(), persons))
        return self.scores[len(self.seen) - 1]


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def runs():
    """One single-decoder run and two 3-candidate runs scripted to keep candidate 0 / 2."""
    one = pretrain_face_side(FaceSideSettings(**TINY, decoder_candidates=1))
    settings = FaceSideSettings(**TINY, decoder_candidates=3, validation_persons=8)
    n = len(SCORED_SHRINKS)  # the score is called once per shrink factor and candidate
    keep0 = _Scripted([0.9] * n + [0.2] * n + [0.8, 0.9, 1.0])
    keep2 = _Scripted([0.1] * n + [0.2] * n + [0.7] * n)
    first = pretrain_face_side(settings, score=keep0)
    last = pretrain_face_side(settings, score=keep2)
    return one, first, last, keep0, keep2


def test_candidate_zero_is_the_single_decoder_and_the_best_score_is_kept(runs):
    one, first, last, _, _ = runs
    assert _equal(one.model.face_encoder, first.model.face_encoder)
    assert _equal(one.model.face_encoder, last.model.face_encoder)
    # a tie (0.9 and the mean of 0.8, 0.9, 1.0) keeps the lower index: candidate 0, the
    # single-candidate decoder
    assert first.choice.scores == pytest.approx((0.9, 0.2, 0.9))
    assert first.choice.chosen == 0 and _equal(one.model.face_decoder, first.model.face_decoder)
    assert last.choice.chosen == 2 and not _equal(one.model.face_decoder, last.model.face_decoder)
    assert last.choice.scores == pytest.approx((0.1, 0.2, 0.7))
    assert first.choice.parts[2] == (0.8, 0.9, 1.0)
    assert last.choice.seeds == (None, candidate_seed(0, 1), candidate_seed(0, 2))
    card = last.card()["decoder_choice"]
    assert card["scores_by_shrink"]["0.5"] == [0.1, 0.2, 0.7]
    assert card["chosen"] == 2 and card["validation_seed"] == 777
    assert card["validation_persons"] == 8 and card["candidates"] == 3


def test_candidates_differ_and_the_score_sees_their_reconstructions(runs):
    _, _, last, _, keep2 = runs
    n = len(SCORED_SHRINKS)
    images = [seen[0] for seen in keep2.seen]
    assert len(images) == 3 * n
    assert all(im.shape == (8, 64, 64, 3) and im.dtype == np.uint8 for im in images)
    assert not np.array_equal(images[0], images[n]) and not np.array_equal(images[n], images[2 * n])
    persons = keep2.seen[0][1]
    expected = render_face_set(8, seed=777, image_size=64)
    np.testing.assert_array_equal(persons.images, expected.images)
    # the kept candidate's images are its decodings of the validation persons' features
    # moved towards their mean (independent path: fc7 -> decoder -> pixels by hand)
    feats = face_features(last.model, expected.images[:, 0])
    centre = feats.mean(0, keepdims=True)
    for i, a in enumerate(SCORED_SHRINKS):
        moved = torch.from_numpy(centre + a * (feats - centre))
        with torch.no_grad():
            pixels = last.model.face_decoder(moved).image.clamp(0, 1) * 255.0
        again = pixels.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        np.testing.assert_array_equal(images[2 * n + i], again)
        np.testing.assert_array_equal(decode_features(last.model, moved.numpy()), again)
    assert SCORED_SHRINKS[0] == 1.0  # the first is the upper bound itself
    assert not np.array_equal(images[2 * n], images[2 * n + 1])


def test_the_kept_candidates_losses_are_recorded(runs):
    _, first, last, _, _ = runs
    assert len(last.losses["decoder_total"]) == TINY["decoder_steps"]
    assert last.losses["decoder_total"] != first.losses["decoder_total"]
    assert len(last.losses["encoder_gender"]) == TINY["encoder_steps"]


def test_several_candidates_need_a_score_and_their_own_validation_persons():
    with pytest.raises(ValueError, match="3 decoder candidates needs a score"):
        pretrain_face_side(FaceSideSettings(**TINY, decoder_candidates=3))
    with pytest.raises(ValueError, match=r"validation_seed must differ from seed \(5\)"):
        FaceSideSettings(seed=5, validation_seed=5)
    with pytest.raises(ValueError, match="decoder_candidates must be >= 1, got 0"):
        FaceSideSettings(decoder_candidates=0)


def test_candidate_seeds_are_fixed_and_distinct():
    seeds = [candidate_seed(s, k) for s in (0, 1) for k in (1, 2, 3)]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**32 for s in seeds)
    assert candidate_seed(0, 1) == int(np.random.SeedSequence([0, 1]).generate_state(1)[0])


def test_images_to_uint8_clips_and_rounds_half_to_even():
    from s2f_model import images_to_uint8

    values = np.array([-0.2, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 1.3], "f4")
    images = np.broadcast_to(values, (2, 3, 4, 7)).copy()
    out = images_to_uint8(torch.from_numpy(images))
    assert out.shape == (2, 4, 7, 3) and out.dtype == np.uint8
    # 0.5 and 1.5 grey levels round to the even neighbours 0 and 2; 127.5 to 128
    assert out[0, 0, :, 0].tolist() == [0, 0, 0, 2, 128, 255, 255]
    np.testing.assert_array_equal(images_to_uint8(images), out)  # numpy in, same pixels


def test_a_kept_candidate_is_retrained_alone_bit_for_bit(runs):
    """``train_candidate`` on the frozen encoder reproduces candidate 2 of a full run.

    What ``benchmarks/regenerate_decoder_candidate.py`` relies on: a candidate ``k >= 1``
    depends on the encoder, the persons, the settings and its seed only.
    """
    _, _, last, _, _ = runs
    s = last.settings
    data = render_face_set(s.n_persons, seed=s.seed, image_size=64)
    model = copy.deepcopy(last.model)  # the fixture is shared
    kept = {k: v.clone() for k, v in model.face_decoder.state_dict().items()}
    before = torch.random.get_rng_state()

    def train(m, gen, out):
        _train_decoder(m, data, s, gen, out)

    train_candidate(model, train, candidate_seed(s.seed, 2), {})
    new = model.face_decoder.state_dict()
    assert kept.keys() == new.keys() and all(torch.equal(kept[k], new[k]) for k in kept)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is left alone
    train_candidate(model, train, candidate_seed(s.seed, 1), {})
    assert not torch.equal(model.face_decoder.state_dict()["to_rgb.weight"], kept["to_rgb.weight"])
