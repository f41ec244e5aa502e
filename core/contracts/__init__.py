"""The shapes the API, workflows and activities exchange, and the Temporal names they use.

All three sides import from here and never from each other, so the API process loads neither
the model client nor the stores, and a workflow names an activity without importing it.
"""
