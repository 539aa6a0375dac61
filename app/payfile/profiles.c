/* profiles: the Swedish banks' variants of pain.001 for salaries, as data.
 *
 * Each row is a best reading of public descriptions, NOT confirmed against the bank's
 * current message implementation guide: docs/payfile.md says so per field. A bank that
 * differs gets a changed row here (reviewed like any other change), never a code branch
 * in payfile.c. */
#include "payfile/payfile.h"

#include <strings.h>

static const payfile_profile profiles[] = {
    /* The ISO/CGI-MP reading: account without clearing (the clearing is in CdtrAgt),
     * the employer's orgnr as customer id, no remittance text on salaries (it would
     * reach the employee's statement and need not say anything). */
    {"generic", "Generic (ISO 20022 / CGI-MP)", false, false, "CUST", false, NULL, 70},
    {"seb", "SEB", true, false, "BANK", false, "NURG", 70},
    {"handelsbanken", "Handelsbanken", false, true, "BANK", false, "NURG", 70},
    {"nordea", "Nordea", true, true, "CUST", true, NULL, 70},
    {"swedbank", "Swedbank", true, false, "BANK", false, "NURG", 70},
};

size_t payfile_profile_count(void) { return sizeof profiles / sizeof profiles[0]; }

const payfile_profile *payfile_profile_at(size_t i)
{
    return i < payfile_profile_count() ? &profiles[i] : NULL;
}

const payfile_profile *payfile_profile_find(const char *name)
{
    for (size_t i = 0; name && i < payfile_profile_count(); i++)
        if (strcasecmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}
