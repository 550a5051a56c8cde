/* units: the (case, variant, epoch) numbering of a run's work items; see units.h. */
#include "units.h"

void coord_units_init(coord_units_t *u, const rs_config_t *cfg, uint64_t cases)
{
    u->cases = cases;
    u->variants = (uint32_t)rs_config_variants(cfg);
    u->epochs = cfg->epochs > 1 ? (uint32_t)cfg->epochs : 1;
}

uint64_t coord_units_total(const coord_units_t *u)
{
    /* cases < 2^32 (the dataset's line numbers), variants <= 65, epochs <= 100: no overflow */
    return u->cases * u->variants * u->epochs;
}

void coord_units_split(const coord_units_t *u, uint64_t unit, uint64_t *case_idx,
                       uint32_t *variant, uint32_t *epoch)
{
    if (epoch) *epoch = (uint32_t)(unit % u->epochs);
    unit /= u->epochs;
    if (variant) *variant = (uint32_t)(unit % u->variants);
    if (case_idx) *case_idx = unit / u->variants;
}

uint64_t coord_units_of(const coord_units_t *u, uint64_t case_idx, uint32_t variant,
                        uint32_t epoch)
{
    return (case_idx * u->variants + variant) * u->epochs + epoch;
}

int coord_units_read(const coord_units_t *u, rs_dataset_t *ds, uint64_t unit, rs_case_t *out,
                     rs_err_t *err)
{
    uint64_t c;
    uint32_t v, e;
    coord_units_split(u, unit, &c, &v, &e);
    if (rs_dataset_read_variant(ds, c, v, out, err) < 0) return -1;
    out->idx = unit;
    out->epoch = e;
    return 0;
}
