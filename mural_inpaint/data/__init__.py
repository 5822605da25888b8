"""The data domain: mural collections read through Hugging Face ``datasets`` (local folders or Hub ids) and the
damage they are given (synthetic presets, one sizeable loss, banks of real traced masks)."""
