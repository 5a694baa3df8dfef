"""``train_seeds`` (``s2f-audit train --seeds N``, issue #19): data decoded once, same models."""

from __future__ import annotations

import torch

import s2f_model._train as train_module
from s2f_model._train import train, train_seeds


def test_seeds_share_the_decoded_data_and_train_the_same_models(
    tiny_manifest, tmp_path, tiny_config, monkeypatch
):
    calls = []
    real = train_module.load_training_data

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "load_training_data", counted)
    runs = [(tmp_path / "seed-0", 3), (tmp_path / "seed-1", 4)]
    shared = train_seeds(tiny_config(), tiny_manifest, runs, progress=False)
    assert len(calls) == 1  # decoded once for both seeds
    for (out, seed), got in zip(runs, shared, strict=True):
        alone = train(
            tiny_config(seed=seed), tiny_manifest, out.with_name(f"alone-{seed}"), progress=False
        )
        assert got.losses == alone.losses
        a, b = got.model.state_dict(), alone.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), seed
    assert len(calls) == 3  # each lone run decodes its own
    a, b = shared[0].model.state_dict(), shared[1].model.state_dict()
    assert not torch.equal(a["voice_encoder.fc2.weight"], b["voice_encoder.fc2.weight"])
