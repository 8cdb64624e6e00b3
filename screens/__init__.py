"""The Textual wizard: the App (screens.app.run_wizard), one module per step, dialogs and styles.

Renders what the headless core (dex_tui) computes; the core never imports this package."""
