"""The steps of one turn, each a plain function sequenced only by framework.loop."""
