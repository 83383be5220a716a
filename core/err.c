#include "err.h"

static const struct {
	const char *id;
	const char *message;
} errs[PWR_E__MAX] = {
    [PWR_OK] = {"0000", "OK"},
    [PWR_E_NO_IDENTIFIER] = {"1008", "Email or username required"},
    [PWR_E_EMAIL_INVALID] = {"1002", "Invalid email address"},
    [PWR_E_MEMBER_UNKNOWN] = {"100E", "No member found"},
    [PWR_E_API_ACCOUNT] = {"1018",
			   "Cannot reset the password of an API account"},
    [PWR_E_LOCKED] = {"1019", "The account is locked or disabled"},
    [PWR_E_NO_EMAIL] = {"100F", "The member has no email address"},
    [PWR_E_TOKEN_INVALID] = {"102A", "Invalid reset password token"},
    [PWR_E_KEY_INVALID] = {"1024", "Invalid reset password key"},
    [PWR_E_PASSWORD_WEAK] = {"1015", "The new password is not strong enough"},
    [PWR_E_PASSWORD_USER] = {"1016",
			     "The new password must differ from the username"},
    [PWR_E_UNKNOWN_SERVICE] = {"0102", "Unknown service"},
    [PWR_E_METHOD] = {"0103", "Method not allowed: use POST"},
    [PWR_E_UNKNOWN_GROUP] = {"0202",
			     "Failed @Requires check: missing Group instance"},
    [PWR_E_MALFORMED] = {"0105", "Malformed request"},
    [PWR_E_TOO_LARGE] = {"0106", "Request body too large"},
    [PWR_E_CONTENT_TYPE] = {"0107", "Content type must be "
				    "application/x-www-form-urlencoded"},
    [PWR_E_RATE_LIMITED] = {"0108", "Too many requests"},
    [PWR_E_INTERNAL] = {"0500", "Internal error"},
    [PWR_E_UNAVAILABLE] = {"0503", "Service temporarily unavailable"},
};

_Static_assert(sizeof(errs) / sizeof(errs[0]) == PWR_E__MAX,
	       "error table out of step with enum pwr_err");

const char *
pwr_err_id(enum pwr_err e)
{
	if ((unsigned)e >= PWR_E__MAX)
		e = PWR_E_INTERNAL;
	return errs[e].id;
}

const char *
pwr_err_message(enum pwr_err e)
{
	if ((unsigned)e >= PWR_E__MAX)
		e = PWR_E_INTERNAL;
	return errs[e].message;
}
