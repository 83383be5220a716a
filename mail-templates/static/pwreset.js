/*
 * pwreset pages (SPEC §9).  The pages work without this script; with it,
 * the reset token leaves the address bar (it is already in the form) and
 * the second password field says at once when it differs from the first.
 */
(function () {
	"use strict";
	var pw = document.getElementById("password");
	var confirm = document.getElementById("confirm");
	var err = document.getElementById("confirm-error");

	if (pw && window.history && history.replaceState && location.search)
		history.replaceState(null, "", location.pathname);
	if (!pw || !confirm || !err)
		return;
	confirm.addEventListener("change", function () {
		var differ = confirm.value !== "" && confirm.value !== pw.value;

		err.textContent = differ ? "The two passwords differ." : "";
		confirm.setAttribute("aria-invalid", differ ? "true" : "false");
	});
})();
