"""Fixed prose of the report: section titles, model and data card text, methods definitions."""

from __future__ import annotations

__all__ = [
    "BUILTIN_SOURCES",
    "DEFINITIONS",
    "INTENDED_USE",
    "LIMITATIONS",
    "METRIC_NAMES",
    "OUT_OF_SCOPE",
    "SECTION_INTROS",
]

#: ``data.source`` values of the built-in synthetic population (faces may be shown).
BUILTIN_SOURCES = frozenset({"biaslab", "bias_lab", "bias-lab", "builtin", "synthetic"})

#: Readable names of metrics; unknown metrics are shown with underscores as spaces.
METRIC_NAMES = {
    "cosine": "cosine similarity",
    "l1": "L1 distance",
    "l2": "L2 distance",
    "angle": "angle (degrees)",
    "ece": "expected calibration error",
}

SECTION_INTROS = {
    "composition": (
        "Who is in the evaluation set, by attribute. Groups with no utterances are listed, not "
        "dropped; groups below the minimum size are marked and are never reported as findings."
    ),
    "confusion": (
        "Rows are the judge's label for the true face, columns its label for the "
        "reconstruction; each cell shows the row-normalised rate and the count n behind it "
        "(for data without face images, 'recorded' matrices: rows are the speaker's recorded "
        "attribute). A row with no utterances shows a dash, never 0."
    ),
    "agreement": (
        "Agreement between the judge's labels for the true face and for the reconstruction. "
        "Upper-bound rows (true face -> face encoder -> decoder -> judge) show what the decoder "
        "and judge lose on their own. For data without face images the reconstruction is "
        "compared with the speaker's recorded attribute instead (rows 'with the recorded "
        "value'): judge errors and recording conventions then count as disagreement."
    ),
    "disparities": (
        "Each group against its reference: difference and ratio with confidence intervals, raw "
        "and multiplicity-corrected p-values, and flags. The gap of every group is in the "
        "tables of each section; this section collects the gaps flagged significant and plots "
        "the gaps of the headline metrics."
    ),
    "retrieval": (
        "Recall@k of the true face among a gallery of faces; the gallery size and the chance "
        "level (k / gallery size) are given beside every recall."
    ),
    "similarity": "Similarity between the voice-predicted face feature and the true face's.",
    "input_length": (
        "Feature similarity and recall@k when the voice feature is computed from only the "
        "first d seconds of speech, looped to the model's input length as the paper does with "
        "short speech; same utterances, faces and galleries at every duration, so the "
        "difference is paired (speaker-bootstrap interval). 'speech s' is the mean speech "
        "actually used: an utterance shorter than d is looped."
    ),
    "craniofacial": (
        "Pearson correlation between craniofacial measures of the true face and of the "
        "reconstruction, against a shuffled-pairs baseline."
    ),
    "pitch": (
        "How the judged gender of reconstructions follows voice pitch (median F0), by true "
        "gender. High-pitched male voices judged female are a failure the paper's authors show."
    ),
    "calibration": "Calibration of the attribute judge by group (expected calibration error).",
}

INTENDED_USE = (
    "Research on what voice-to-face models learn and on their biases: auditing a model's "
    "reconstructions by group, comparing models, teaching. The output is a face-like image "
    "with typical features that correlate with the voice; it is not a photograph of the speaker."
)

OUT_OF_SCOPE = (
    "Identifying people, verifying identity or linking voices to identities.",
    "Profiling, describing or searching for suspects, or any law-enforcement or surveillance use.",
    "Inferring a person's ethnicity, age, gender or other protected attribute from their voice "
    "for decisions about them (hiring, lending, access, immigration).",
    "Any use on people who have not consented to their voice being processed this way.",
)

LIMITATIONS = (
    "The attribute labels come from an automatic judge, not from the people themselves; judge "
    "errors and biases are part of every rate (see judge calibration).",
    "Reconstructions lie between the categories the judge learned on true faces, so their "
    "judged attributes depend on the judge more than its accuracy suggests: two bias-lab "
    "judges of similar accuracy named a different ethnicity for 10-19% of voice "
    "reconstructions. Agreement is also capped by how often the judge reads true faces right.",
    "Ethnicity, gender and age categories are coarse and socially constructed; they do not "
    "describe individuals.",
    "A synthetic population measures what the model learned from the synthetic cues; results "
    "on real speakers can differ. Test on the population a model is meant for.",
    "Groups below the minimum size are shown with their n but are not findings; absence of a "
    "significant gap is not evidence of equality.",
    "Utterances of one speaker are not independent; intervals resample speakers, so the "
    "speaker count is the effective sample size.",
    "The model cannot recover a person's identity; reconstructions must not be presented as "
    "likenesses of real people.",
)

DEFINITIONS = (
    (
        "Agreement",
        "Share of utterances where the judge gives the reconstruction the same label "
        "as the true face.",
    ),
    (
        "Confusion matrix",
        "Counts of (true-face label, reconstruction label), normalised by row; "
        "the full label list is always shown.",
    ),
    (
        "Recall@k",
        "Share of voices whose true face ranks among the k faces most similar to the "
        "predicted feature, in a gallery of the stated size; chance is k / gallery size.",
    ),
    (
        "Input length",
        "Metric with the voice feature computed from the first d seconds of speech, repeated "
        "until it fills the model's input (the clip, or d when longer); 'b s - a s' is the "
        "paired difference over the same utterances.",
    ),
    ("Difference, ratio", "Group value minus (or divided by) the reference value."),
    (
        "Confidence interval",
        "Speaker-cluster bootstrap percentile interval at the stated level, "
        "stratified by group so that no group vanishes from a replicate.",
    ),
    (
        "p-value, adjusted p",
        "Test of no difference from the reference; adjusted across the "
        "family of comparisons with the stated correction.",
    ),
    (
        "Insufficient data",
        "Fewer utterances or speakers than the minimum group size: shown, "
        "never reported as a finding.",
    ),
    (
        "Unstable CI",
        "Flag unstable_ci: the value could not be computed in a large share of the bootstrap "
        "replicates (e.g. a class missing from the resample), so the interval rests on fewer "
        "replicates; read it with care.",
    ),
    (
        "Single class",
        "Flag single_class: the group holds one true class, so statistics that need several "
        "(kappa, macro recall) do not measure agreement there; never a finding.",
    ),
    (
        "No interval",
        "Flag degenerate_ci: the value is exact but has no interval because the data show no "
        "spread (e.g. every utterance agrees, so every bootstrap replicate gives the same "
        "value); shown as 'no interval: no spread in the data', not as a zero-width interval.",
    ),
    (
        "ECE",
        "Expected calibration error: mean gap between confidence and accuracy over "
        "confidence bins.",
    ),
)
