"""What must happen: typed steps in a DAG, each with a content key. Pure: no network, no writes."""
