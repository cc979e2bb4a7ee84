"""Alert rules: matching live items against users' rules, and delivering what matches."""
