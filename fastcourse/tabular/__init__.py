"""Tables: `tabular.core` processes a DataFrame into tensors, `tabular.learner` trains a model with entity embeddings on them (needs pandas: `pip install \x27fastcourse[tabular]\x27`)."""
