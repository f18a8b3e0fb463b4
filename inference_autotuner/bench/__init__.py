"""Load generation and measurement: traffic scenarios, the built-in streaming client, one Metrics model."""
