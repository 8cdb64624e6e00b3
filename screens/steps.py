"""Which screen shows which step (ids from ``assets/flow.toml``)."""

from __future__ import annotations

from screens.access import AccessScreen
from screens.base import StepScreen
from screens.eligibility import EligibilityScreen
from screens.license import LicenseScreen
from screens.permissions import PermissionsScreen
from screens.review import ReviewScreen
from screens.sign_in import SignInScreen
from screens.terms import TermsScreen
from screens.welcome import WelcomeScreen

STEP_SCREENS: dict[str, type[StepScreen]] = {
    "welcome": WelcomeScreen,
    "signin": SignInScreen,
    "eligibility": EligibilityScreen,
    "terms": TermsScreen,
    "license": LicenseScreen,
    "permissions": PermissionsScreen,
    "access": AccessScreen,
    "review": ReviewScreen,
}
