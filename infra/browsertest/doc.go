// Package browsertest holds the admin console's tests in a real browser:
// headless Chromium (Debian's chromium package) driven from Go with
// chromedp, against a whole local system. `make screenshots` runs them to
// refresh the pictures under docs/console.
package browsertest
