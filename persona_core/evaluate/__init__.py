"""Judge steering methods on held-out answers: baselines, the SPM, the CF predictor."""
