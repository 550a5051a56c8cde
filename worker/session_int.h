/* session_int: the session's constants its unit test checks against (tests/unit/test_session.c);
 * not for other modules. */
#ifndef WK_SESSION_INT_H
#define WK_SESSION_INT_H

#define SPEC_TRIES 3 /* WELCOMEs with a spec this worker cannot use before it gives up */

#endif
