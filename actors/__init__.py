"""The five actors: market data, strategy, portfolio, risk, execution. They never import each other."""
