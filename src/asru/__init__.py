"""asru: controllable machine unlearning for multimodal LLMs.

    from asru import unlearn, evaluate
"""

__version__ = "0.1.0"

__all__ = ["evaluate", "unlearn", "__version__"]


def __getattr__(name: str):
    # Lazy: `import asru` stays fast and torch-free until the API is used.
    if name == "unlearn":
        from asru.pipeline import unlearn

        return unlearn
    if name == "evaluate":
        from asru.pipeline import evaluate_model

        return evaluate_model
    raise AttributeError(f"module 'asru' has no attribute {name!r}")
