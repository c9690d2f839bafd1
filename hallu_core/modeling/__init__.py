"""Language models: configs, loading, fine-tuning, distillation, generation."""
