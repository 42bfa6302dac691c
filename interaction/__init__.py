"""The interaction model: modules, streaming sessions, sampler, background model, serving."""
