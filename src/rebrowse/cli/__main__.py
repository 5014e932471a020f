from rebrowse.cli import app

app()
