/*
 * err.h — the one error enum of pwreset.
 *
 * Every answer that is not a success is one of these.  The PageSeeder id
 * (four upper-case hex digits) and the message live in one const table in
 * err.c; the HTTP status is the transport's business (fcgi/response.c keeps
 * its own table indexed by this enum).
 */
#ifndef PWR_ERR_H
#define PWR_ERR_H

enum pwr_err {
	PWR_OK = 0,
	PWR_E_NO_IDENTIFIER,   /* 1008 neither email nor username (admins) */
	PWR_E_EMAIL_INVALID,   /* 1002 */
	PWR_E_MEMBER_UNKNOWN,  /* 100E no member found (admins) */
	PWR_E_API_ACCOUNT,     /* 1018 */
	PWR_E_LOCKED,	       /* 1019 locked or disabled */
	PWR_E_NO_EMAIL,	       /* 100F */
	PWR_E_TOKEN_INVALID,   /* 102A */
	PWR_E_KEY_INVALID,     /* 1024 the secret came as `key` */
	PWR_E_PASSWORD_WEAK,   /* 1015 */
	PWR_E_PASSWORD_USER,   /* 1016 password equals username */
	PWR_E_UNKNOWN_SERVICE, /* 0102 */
	PWR_E_METHOD,	       /* 0103 */
	PWR_E_UNKNOWN_GROUP,   /* 0202 */
	PWR_E_MALFORMED,       /* 0105 */
	PWR_E_TOO_LARGE,       /* 0106 */
	PWR_E_CONTENT_TYPE,    /* 0107 */
	PWR_E_RATE_LIMITED,    /* 0108 */
	PWR_E_INTERNAL,	       /* 0500 */
	PWR_E_UNAVAILABLE,     /* 0503 */
	PWR_E__MAX
};

/* "102A": the PageSeeder id, four upper-case hex digits, never NULL. */
const char *pwr_err_id(enum pwr_err);
/* The human message placed in <message>, never NULL. */
const char *pwr_err_message(enum pwr_err);

#endif
