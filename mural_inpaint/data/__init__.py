"""The data domain: mural collections read through Hugging Face ``datasets`` (local folders or Hub ids) and the
damage they are given (synthetic presets, one sizeable loss, banks of real traced masks), and the evaluation cases
built from them (:mod:`mural_inpaint.data.cases`: one ``Case`` type and one holdout reader for training's
validation and the benchmark)."""
